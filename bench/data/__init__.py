"""Data: datasets (synthetic and ImageNet), preprocessing and its cache, fetching known models."""
