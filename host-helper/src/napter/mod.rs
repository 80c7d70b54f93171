//! Napter port mappings and everything about them: the API calls on mappings (`mapping`), the
//! registry of the mappings napsh created (`registry`), the device list they are shown in
//! (`devices`), the source range a mapping allows (`source_range`), and a mapping's life from
//! ensuring it to releasing, reaping or closing it (`lease`).

pub mod devices;
pub mod lease;
pub mod mapping;
pub mod registry;
pub mod source_range;
