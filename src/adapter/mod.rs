//! Rooms and who is in them. `local` keeps them in this process; a cluster adapter adds the
//! other nodes on top. `recovery` keeps recent broadcasts for clients that reconnect.

pub mod local;
pub mod recovery;
