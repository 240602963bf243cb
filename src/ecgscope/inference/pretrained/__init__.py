"""Model packages shipped with ecgscope (one folder each)."""
