from support import assert_json_error


def test_classify_answers_with_the_ingestion_engines_verdict_and_reasons(client, runtime):
    body = {"subject": "Charged twice", "message": "You billed me twice this month. Refund it or I file a chargeback."}
    response = client.post("/classify", json=body)
    assert response.status_code == 200
    verdict = response.get_json()
    assert verdict == runtime.classifier.classify(body["subject"], body["message"]).to_dict()
    assert verdict["urgency"] == "high" and verdict["requires_action"] is True
    assert verdict["reasons"] and verdict["version"] == runtime.classifier.version


def test_classify_requires_subject_and_message(client):
    assert_json_error(client.post("/classify", json={"subject": "x"}), 422, "message")
    assert_json_error(client.post("/classify", json={"message": "x"}), 422, "subject")


def test_classify_rejects_a_body_that_is_not_json(client):
    response = client.post("/classify", data="not json", content_type="application/json")
    assert response.status_code in (400, 422) and response.is_json


def test_classify_rejects_oversized_bodies(client):
    response = client.post("/classify", json={"subject": "x", "message": "y" * 100_000})
    assert_json_error(response, 413)
