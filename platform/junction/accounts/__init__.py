"""City staff and their roles per region (control plane), and the one place that scopes reads."""
