//! stdlib crate (see ../shared/DESIGN.md).
