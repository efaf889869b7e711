"""stvsr_blocks.data subpackage."""
