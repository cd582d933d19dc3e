"""Read models: what coordinators, GPs and place leads look at, rebuildable from the events."""
