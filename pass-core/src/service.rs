//! The component as a whole. (stub: the lease work item fills this in)
