"""The package catalog: vocabulary, the shipped Turtle file, loading, and the generator."""
