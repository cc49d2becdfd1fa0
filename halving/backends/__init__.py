"""Where trials execute: simulated (virtual time) and Ray actors."""
