# One boto3 session for all of a module's AWS clients.
#
# amazon.aws 10's AnsibleAWSModule.client() builds a new boto3 Session for every client, and each new
# session makes botocore read its endpoint and partition data and the service's model again (about
# 0.2 CPU-s per client, and a pre-flight run asks for several). SharedSessionAWSModule makes the session
# once (the same profile, credentials, region, endpoint and user agent as amazon.aws's, and the process's
# botocore data loader: toil_aws.botocore_session) and each client once per service and configuration.
# Errors are reported as amazon.aws's boto3_conn reports them.

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.botocore import (
    _get_user_agent_string,
    _merge_botocore_config,
    get_aws_connection_info,
)
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.genomics.cactus.plugins.module_utils.toil_aws import botocore_session


class SharedSessionAWSModule(AnsibleAWSModule):
    """AnsibleAWSModule whose clients share one boto3 session (and one client per service/config)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._boto3_session = None
        self._clients = {}

    def _session(self):
        if self._boto3_session is None:
            import boto3

            profile = get_aws_connection_info(self)[2].get("profile_name")
            self._boto3_session = self._connect(
                lambda: boto3.session.Session(botocore_session=botocore_session(), profile_name=profile)
            )
        return self._boto3_session

    def client(self, service, retry_decorator=None, **extra_params):
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
        conn = self._clients[key]
        return conn if retry_decorator is None else RetryingBotoClientWrapper(conn, retry_decorator)

    def _connect(self, make):
        import botocore.exceptions

        try:
            return make()
        except botocore.exceptions.NoRegionError:
            self.fail_json(msg=f"The {self._name} module requires a region and none was found in "
                           "configuration, environment variables or module parameters")
        except (ValueError, botocore.exceptions.BotoCoreError) as e:
            self.fail_json_aws(e, msg="Couldn't connect to AWS")
