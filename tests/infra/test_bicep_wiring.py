"""The Bicep's wiring, parsed with pycep: what checkov cannot see (its checks look at one resource at a
time) and what a reviewer would otherwise have to trust. Identity on the app, RBAC + purge protection on
the vault, immutability of the reports, shared key access off, every app setting the service reads,
role assignments scoped to single resources, module parameters that exist, no secret literal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rotation.hosting import config, schedules
from tests.infra.bicep import (
    INFRA,
    ROOT,
    accessor,
    app_settings,
    module,
    one,
    parameter_default,
    resources,
    symbol_types,
    templates,
    variable,
)

SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
# the settings table the Function app and the Bicep share (names are fixed)
REQUIRED_SETTINGS = {
    "ROTATION_POLICIES",
    "ROTATION_REPORTS_DIR",
    "AZURE_CLIENT_ID",
    "ROTATION_MAX_CONCURRENCY",
    "ROTATION_RATE_LIMIT",
    "ROTATION_FAIL_ON",
    "ROTATION_REPORTS_ACCOUNT_URL",
    "ROTATION_REPORTS_CONTAINER",
    "ROTATION_REPORTS_CONNECTION_STRING",
    "ROTATE_SCHEDULE",
    "REVOKE_SCHEDULE",
    "AUDIT_SCHEDULE",
    "ROTATION_FANOUT",
    "ROTATION_QUEUE",
    "ROTATION_LEASE_CONTAINER",
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
}


def test_every_template_parses_and_declares_something() -> None:
    assert set(templates()) >= {
        "main.bicep",
        "modules/functionapp.bicep",
        "modules/storage.bicep",
        "modules/keyvault.bicep",
        "modules/monitoring.bicep",
        "modules/alerts.bicep",
    }
    for file, tree in templates().items():
        assert tree.get("resources") or tree.get("modules"), file


def test_flex_consumption_python_app_runs_as_the_user_assigned_identity() -> None:
    plan = one("Microsoft.Web/serverfarms")
    assert plan.config["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    site = one("Microsoft.Web/sites")
    assert site.config["kind"] == "functionapp,linux"
    assert site.config["identity"]["type"] == "UserAssigned"
    assert list(site.config["identity"]["userAssignedIdentities"]) == ["'${identityId}'"]
    assert accessor(module("functionApp")["config"]["params"]["identityId"]) == ["identity", "id"]
    assert site.properties["httpsOnly"] is True
    app_config = site.properties["functionAppConfig"]
    assert app_config["runtime"] == {"name": "python", "version": "3.11"}
    storage = app_config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"] == {"type": "UserAssignedIdentity", "userAssignedIdentityResourceId": "identityId"}
    assert site.properties["siteConfig"]["minTlsVersion"] == "1.2"
    for policy in resources("Microsoft.Web/sites/basicPublishingCredentialsPolicies"):
        assert policy.properties == {"allow": False}, policy.symbol


def test_vault_uses_rbac_soft_delete_purge_protection_and_logs_to_the_workspace() -> None:
    vault = one("Microsoft.KeyVault/vaults")
    assert vault.properties["enableRbacAuthorization"] is True
    assert vault.properties["enableSoftDelete"] is True
    assert vault.properties["enablePurgeProtection"] is True
    assert "accessPolicies" not in vault.properties
    diagnostics = [d for d in resources("Microsoft.Insights/diagnosticSettings") if d.file == vault.file]
    assert [d.config["scope"] for d in diagnostics] == [vault.symbol]
    assert diagnostics[0].properties["workspaceId"] == "workspaceId"
    assert {"categoryGroup": "allLogs", "enabled": True} in diagnostics[0].properties["logs"]


def test_storage_accepts_only_entra_id_over_tls12_https_without_public_blobs() -> None:
    account = one("Microsoft.Storage/storageAccounts")
    assert account.properties["allowSharedKeyAccess"] is False
    assert account.properties["allowBlobPublicAccess"] is False
    assert account.properties["minimumTlsVersion"] == "TLS1_2"
    assert account.properties["supportsHttpsTrafficOnly"] is True
    assert account.properties["defaultToOAuthAuthentication"] is True
    for container in resources("Microsoft.Storage/storageAccounts/blobServices/containers"):
        assert container.properties["publicAccess"] == "None", container.symbol


def test_reports_container_is_versioned_and_immutable() -> None:
    assert one("Microsoft.Storage/storageAccounts/blobServices").properties["isVersioningEnabled"] is True
    reports = next(
        c
        for c in resources("Microsoft.Storage/storageAccounts/blobServices/containers")
        if c.config["name"] == "reportsContainerName"
    )
    assert reports.properties["immutableStorageWithVersioning"] == {"enabled": True}
    policy = one("Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies")
    assert policy.config["parent"] == reports.symbol
    assert policy.config["name"] == "default"
    assert policy.properties["immutabilityPeriodSinceCreationInDays"] == "reportRetentionDays"
    assert parameter_default("main.bicep", "reportRetentionDays") >= 1


def test_queue_poison_queue_and_lease_container_carry_the_names_the_app_reads() -> None:
    params = module("storage")["config"]["params"]
    assert variable("main.bicep", params["queueName"]) == "rotation-apps"
    assert variable("main.bicep", params["poisonQueueName"]) == "rotation-apps-poison"
    assert variable("main.bicep", params["leaseContainerName"]) == "rotation-leases"
    assert variable("main.bicep", params["reportsContainerName"]) == "reports"
    queues = {q.config["name"] for q in resources("Microsoft.Storage/storageAccounts/queueServices/queues")}
    assert queues == {"queueName", "poisonQueueName"}
    settings = module("functionApp")["config"]["params"]["settings"]
    assert (settings["queue"], settings["leaseContainer"], settings["reportsContainer"]) == (
        params["queueName"],
        params["leaseContainerName"],
        params["reportsContainerName"],
    )


def _settings_the_app_reads() -> set[str]:
    """Every setting documented in rotation/hosting/config.py and declared in local.settings.json.example."""
    documented = set(re.findall(r"^\| ([A-Z][A-Z_]+) \|", config.__doc__ or "", flags=re.MULTILINE))
    example = ROOT / "local.settings.json.example"
    declared = set(json.loads(example.read_text(encoding="utf-8"))["Values"]) if example.is_file() else set()
    # Azure: the identity-based AzureWebJobsStorage__* form; Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME
    return (documented | declared) - {"AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME"}


def test_every_setting_the_app_reads_is_an_app_setting() -> None:
    names = set(app_settings())
    assert names >= REQUIRED_SETTINGS, REQUIRED_SETTINGS - names
    assert _settings_the_app_reads() <= names, _settings_the_app_reads() - names
    # no key-bearing connection string, nothing Flex Consumption rejects
    assert not names & {
        "AzureWebJobsStorage",
        "FUNCTIONS_WORKER_RUNTIME",
        "FUNCTIONS_EXTENSION_VERSION",
        "WEBSITE_RUN_FROM_PACKAGE",
    }
    values = app_settings()
    assert values["AzureWebJobsStorage__credential"] == "managedidentity"
    assert values["AzureWebJobsStorage__clientId"] == values["AZURE_CLIENT_ID"] == "identityClientId"
    assert values["ROTATION_REPORTS_DIR"] == "/tmp/reports"  # noqa: S108 -- the Functions sandbox's writable folder
    assert values["ROTATION_REPORTS_CONNECTION_STRING"] == ""
    # the policies name their vault as ${ROTATION_VAULT_URL} (docs/policy-example.yaml)
    assert values["ROTATION_VAULT_URL"] == "vaultUri"
    assert accessor(module("functionApp")["config"]["params"]["vaultUri"]) == ["vault", "outputs", "vaultUri"]
    assert values["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "ClientId=${identityClientId};Authorization=AAD"


def test_setting_values_passed_by_main_exist_and_schedules_default_to_rotation_schedules() -> None:
    used = set(re.findall(r"\bsettings\.(\w+)", (INFRA / "modules/functionapp.bicep").read_text(encoding="utf-8")))
    assert used <= set(module("functionApp")["config"]["params"]["settings"])
    for setting, default in schedules.app_settings().items():
        param = {
            "ROTATE_SCHEDULE": "rotateSchedule",
            "REVOKE_SCHEDULE": "revokeSchedule",
            "AUDIT_SCHEDULE": "auditSchedule",
        }[setting]
        assert parameter_default("main.bicep", param) == default


@pytest.mark.parametrize("name", ["monitoring", "storage", "keyvault", "functionapp", "alerts"])
def test_module_parameters_match_the_module(name: str) -> None:
    call = next(
        m for m in templates()["main.bicep"]["modules"].values() if m["detail"]["path"] == f"modules/{name}.bicep"
    )
    declared = templates()[f"modules/{name}.bicep"]["parameters"]
    passed = set(call["config"]["params"])
    assert passed <= set(declared), passed - set(declared)
    required = {p for p, body in declared.items() if "default" not in body}
    assert required <= passed, required - passed


def test_role_assignments_are_scoped_to_one_resource_never_the_group_or_subscription() -> None:
    expected = {
        SECRETS_OFFICER: {"Microsoft.KeyVault/vaults"},
        BLOB_DATA_OWNER: {"Microsoft.Storage/storageAccounts"},
        QUEUE_DATA_CONTRIBUTOR: {"Microsoft.Storage/storageAccounts/queueServices/queues"},
        METRICS_PUBLISHER: {"Microsoft.Insights/components"},
        BLOB_DATA_READER: {"Microsoft.Storage/storageAccounts/blobServices/containers"},
    }
    seen: dict[str, set[str]] = {}
    assignments = resources("Microsoft.Authorization/roleAssignments")
    assert len(assignments) >= 5
    for assignment in assignments:
        scope = assignment.config.get("scope")
        assert isinstance(scope, str), f"{assignment.symbol}: no resource scope (= the resource group)"
        scope_type = symbol_types(assignment.file).get(scope)
        role = json.dumps(variable(assignment.file, assignment.properties["roleDefinitionId"]))
        guid = next((g for g in expected if g in role), None)
        assert guid is not None, f"{assignment.symbol}: unexpected role {role}"
        assert scope_type in expected[guid], f"{assignment.symbol}: scope {scope} is a {scope_type}"
        seen.setdefault(guid, set()).add(scope)
    assert set(seen) == set(expected)
    assert len(seen[QUEUE_DATA_CONTRIBUTOR]) == 2  # the queue and its poison queue, not the account


def test_the_operator_may_read_the_reports_container_and_nothing_else_of_the_storage() -> None:
    """docs/deploy.md tells the operator to download runs: with operatorPrincipalId set they get Storage
    Blob Data Reader on the reports container only; unset, no assignment is made."""
    readers = [
        a
        for a in resources("Microsoft.Authorization/roleAssignments")
        if BLOB_DATA_READER in json.dumps(variable(a.file, a.properties["roleDefinitionId"]))
    ]
    (reader,) = readers
    reports = next(
        c
        for c in resources("Microsoft.Storage/storageAccounts/blobServices/containers")
        if c.config["name"] == "reportsContainerName"
    )
    assert reader.config["scope"] == reports.symbol
    assert reader.properties["principalId"] == "operatorPrincipalId"
    assert reader.properties["principalType"] == "operatorPrincipalType"
    assert parameter_default("modules/storage.bicep", "operatorPrincipalId") == ""
    source = (INFRA / "modules/storage.bicep").read_text(encoding="utf-8")  # pycep drops the condition
    assert re.search(rf"resource {reader.symbol} '[^']+' = if \(!empty\(operatorPrincipalId\)\)", source)
    params = module("storage")["config"]["params"]
    assert (params["operatorPrincipalId"], params["operatorPrincipalType"]) == (
        "operatorPrincipalId",
        "operatorPrincipalType",
    )


def test_alerts_watch_failed_invocations_and_high_findings_as_the_audit_logs_them() -> None:
    metric = one("Microsoft.Insights/metricAlerts")
    assert [c["metricName"] for c in metric.properties["criteria"]["allOf"]] == ["requests/failed"]
    rule = one("Microsoft.Insights/scheduledQueryRules")
    query = variable(rule.file, rule.properties["criteria"]["allOf"][0]["query"])
    assert 'severity in ("critical", "high")' in query
    # the log line the query reads is the audit's own (rotation/audit/run.py)
    source = (ROOT / "rotation/audit/run.py").read_text(encoding="utf-8")
    line_format = re.search(r'"(audit_finding [^"]*)"', source)
    assert line_format, "rotation/audit/run.py no longer logs audit_finding lines"
    sample = line_format.group(1) % ("KV-1", "high", "FAIL", "app-a", "token-1")
    prefix = re.search(r'startswith "([^"]+)"', query)
    pattern = re.search(r'extract\(@"(.+?)", 1', query)
    assert prefix
    assert pattern
    assert sample.startswith(prefix.group(1))
    found = re.search(pattern.group(1), sample)
    assert found
    assert found.group(1) == "high"


def test_outputs_name_the_app_the_identity_and_the_vault() -> None:
    outputs = templates()["main.bicep"]["outputs"]
    assert {"functionAppName", "identityClientId", "identityPrincipalId", "vaultUri"} <= set(outputs)
    assert accessor(outputs["identityPrincipalId"]["value"]) == ["identity", "properties", "principalId"]


SECRET_PATTERNS = [
    r"AccountKey=",
    r"SharedAccessKey",
    r"[?&]sig=",
    r"InstrumentationKey=",
    r"DefaultEndpointsProtocol",
    r"listKeys\(",
    r"listSecrets\(",
    r"-----BEGIN",
    r"(?i)password\s*[:=]",
    r"(?i)client_?secret",
]
KEY_LIKE = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")  # a long base64 run: a storage key or a SAS signature


def _key_like(text: str) -> list[str]:
    """Long base64 runs, less resource type paths (`Microsoft.Web/sites/basicPublishingCredentialsPolicies`
    matches the character class but its segments are plain words; a key has digits or '+')."""
    return [
        run for run in KEY_LIKE.findall(text) if not all(segment.isalpha() for segment in run.rstrip("=").split("/"))
    ]


def test_no_secret_literal_in_templates_or_parameters() -> None:
    files = [p for p in INFRA.rglob("*") if p.suffix in {".bicep", ".json"}]
    assert any(p.name == "main.parameters.example.json" for p in files)
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern in SECRET_PATTERNS:
            assert not re.search(pattern, text), f"{path.relative_to(ROOT)}: matches {pattern}"
        assert not _key_like(text), f"{path.relative_to(ROOT)}: key-like {_key_like(text)}"
    for file, tree in templates().items():
        for name, body in (tree.get("parameters") or {}).items():
            secure = any(d.get("type") == "secure" for d in body.get("decorators", []))
            assert not (secure and "default" in body), f"{file}: secure parameter {name} has a default"


def test_example_parameters_are_declared_by_main_and_hold_no_real_identifier() -> None:
    example = json.loads((INFRA / "main.parameters.example.json").read_text(encoding="utf-8"))
    declared = templates()["main.bicep"]["parameters"]
    assert set(example["parameters"]) <= set(declared)
    principal = example["parameters"].get("operatorPrincipalId", {}).get("value", "")
    assert set(principal) <= {"0", "-"}, "the example must carry a placeholder, not a real object id"


def test_deploy_workflow_deploys_this_template() -> None:
    workflow = Path(ROOT / ".github/workflows/deploy.yml").read_text(encoding="utf-8")
    assert "--template-file infra/main.bicep" in workflow
    assert "id-token: write" in workflow
