//! Rooms and who is in them. `local` keeps them in this process; a cluster adapter adds the
//! other nodes on top.

pub mod local;
