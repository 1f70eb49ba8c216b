"""Fleet updates on the edge: what a release may change, and (later) the update agent."""
