//! napsh-emulator: a Soracom API + Napter emulator (work in progress).
