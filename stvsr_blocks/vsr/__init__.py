"""stvsr_blocks.vsr subpackage."""
