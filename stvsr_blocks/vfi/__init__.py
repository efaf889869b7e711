"""stvsr_blocks.vfi subpackage."""
