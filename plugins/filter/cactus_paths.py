"""Filters for where a run's things are, from plugins/module_utils/cactus_paths.py (their one home):
the bucket and key of an S3 output, and the run's name.
"""

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_paths import run_name, s3_location


class FilterModule:
    def filters(self):
        return {
            "cactus_s3_location": s3_location,
            "cactus_run_name": run_name,
        }
