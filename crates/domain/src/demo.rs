//! Demo street generator (see roster helper).
