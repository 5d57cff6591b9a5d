"""The OCI fixtures live in tests/oci_registry.py (a plugin of the root conftest), so every folder can use them."""
