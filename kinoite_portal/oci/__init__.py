"""Run skopeo and buildah for the portal's OCI stages: typed results, validated input, no Django.

The same layer as ``kinoite_portal.ostree``; commands go through ``kinoite_portal.ostree.runner``, errors derive
from ``OstreeError`` so a job that handles one kind of stage handles both.
"""
