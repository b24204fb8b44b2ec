//! Rooms and who is in them. `local` keeps them in this process; `redis` adds the other nodes
//! of a cluster on top (speaking @socket.io/redis-adapter's format, `msgpack`). `recovery` keeps
//! recent broadcasts for clients that reconnect.

pub mod local;
pub mod msgpack;
pub mod recovery;
pub mod redis;
