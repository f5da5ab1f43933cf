//! codegen crate (see ../shared/DESIGN.md).
