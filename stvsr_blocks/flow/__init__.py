"""stvsr_blocks.flow subpackage."""
