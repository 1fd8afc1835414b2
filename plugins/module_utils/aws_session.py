# One boto3 session for all of toil_preflight's AWS clients, with amazon.aws's settings.
#
# toil_preflight's checks run in the controller's own process (plugins/action/toil_preflight.py), where
# amazon.aws's AnsibleAWSModule cannot be made. SharedAWSSession reads the same options (amazon.aws's
# aws_argument_spec: profile, credentials, region, endpoint, CA bundle, botocore config) with amazon.aws's
# get_aws_connection_info, and makes the boto3 session once (with the process's botocore data loader,
# toil_aws.botocore_session: each new session would read and parse botocore's data files again, about
# 0.2 CPU-s a client) and each client once per service and configuration. Errors are reported as
# amazon.aws's boto3_conn reports them.

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.botocore import (
    _get_user_agent_string,
    _merge_botocore_config,
    get_aws_connection_info,
)
from ansible_collections.amazon.aws.plugins.module_utils.modules import aws_argument_spec
from ansible_collections.genomics.cactus.plugins.module_utils.toil_aws import botocore_session

__all__ = ["SharedAWSSession", "aws_argument_spec"]


class SharedAWSSession:
    """AWS clients for `params` (validated against aws_argument_spec() and the caller's own options), all
    from one boto3 session. `fail_json(msg=...)` reports a setting that makes no client; it must not
    return."""

    def __init__(self, params, fail_json, name="toil_preflight"):
        self.params, self.fail_json, self._name = params, fail_json, name
        self._boto3_session = None
        self._clients = {}

    @property
    def region(self):
        return get_aws_connection_info(self)[0]

    def _session(self):
        if self._boto3_session is None:
            import boto3

            profile = get_aws_connection_info(self)[2].get("profile_name")
            self._boto3_session = self._connect(
                lambda: boto3.session.Session(botocore_session=botocore_session(), profile_name=profile)
            )
        return self._boto3_session

    def client(self, service, **extra_params):
        key = (service, repr(sorted(extra_params.items())))
        if key not in self._clients:
            region, endpoint, params = get_aws_connection_info(self)
            params.update(extra_params)
            params.pop("profile_name", None)
            import botocore.config

            config = botocore.config.Config(user_agent=_get_user_agent_string())
            for name in ("config", "aws_config"):
                config = _merge_botocore_config(config, params.pop(name, None))
            session = self._session()
            self._clients[key] = self._connect(
                lambda: session.client(service, config=config, region_name=region, endpoint_url=endpoint,
                                       **params)
            )
        return self._clients[key]

    def _connect(self, make):
        import botocore.exceptions

        try:
            return make()
        except botocore.exceptions.NoRegionError:
            self.fail_json(msg=f"The {self._name} module requires a region and none was found in "
                           "configuration, environment variables or module parameters")
        except (ValueError, botocore.exceptions.BotoCoreError) as e:
            self.fail_json(msg=f"Couldn't connect to AWS: {e}")
