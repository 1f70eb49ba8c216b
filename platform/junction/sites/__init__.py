"""Sites (intersections), their counters, and the devices that report for them: control plane."""
