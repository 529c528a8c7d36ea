"""The tenants directory with keys: a tenant key sees and reads only its own tenant and
cannot switch any tenant's sync; an admin key sees every tenant and switches them."""
from auth.auth_data import TENANT_A, TENANT_B, bearer
from support import assert_json_error


def test_a_tenant_keys_listing_holds_its_own_tenant_only(keys_client, seeded):
    body = keys_client.get("/tenants", headers=bearer(seeded.keys["a"])).get_json()
    assert ([t["tenant_id"] for t in body["tenants"]], body["total"]) == ([TENANT_A], 1)


def test_an_admin_keys_listing_holds_every_tenant(keys_client, seeded):
    for key in (seeded.keys["admin"], seeded.keys["config_admin"]):
        body = keys_client.get("/tenants", headers=bearer(key)).get_json()
        assert [t["tenant_id"] for t in body["tenants"]] == [TENANT_A, TENANT_B]


def test_a_tenant_key_reads_its_own_tenant_and_gets_403_for_another_known_or_not(keys_client, seeded):
    own = bearer(seeded.keys["a"])
    assert keys_client.get(f"/tenants/{TENANT_A}", headers=own).get_json()["tenant_id"] == TENANT_A
    # 403 whether the other tenant exists or not: a key cannot probe which tenants exist.
    for other in (TENANT_B, "no_such_tenant"):
        assert_json_error(keys_client.get(f"/tenants/{other}", headers=own), 403)
        assert_json_error(keys_client.get(f"/tenants/{other}/stats", headers=own), 403)


def test_only_an_admin_key_switches_a_tenants_sync(keys_client, seeded):
    for key in ("a", "b"):
        assert_json_error(keys_client.patch(f"/tenants/{TENANT_A}", json={"sync_enabled": False},
                                            headers=bearer(seeded.keys[key])), 403)
    response = keys_client.patch(f"/tenants/{TENANT_A}", json={"sync_enabled": False},
                                 headers=bearer(seeded.keys["admin"]))
    assert response.status_code == 200 and response.get_json()["sync_enabled"] is False


def test_the_tenants_directory_needs_a_key(keys_client, seeded):
    assert_json_error(keys_client.get("/tenants"), 401)
