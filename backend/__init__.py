"""SmartLic search service: PNCP procurement search by business sector."""
