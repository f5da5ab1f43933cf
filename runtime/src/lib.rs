//! runtime crate (see ../shared/DESIGN.md).
