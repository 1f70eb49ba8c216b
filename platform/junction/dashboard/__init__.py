"""Server-rendered pages for city staff: their regions, sites, device health and recent counts."""
