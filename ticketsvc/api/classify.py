"""POST /classify: run the ingestion classifier on a text, for operators checking rules."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from .context import get_runtime

blp = Blueprint("classify", __name__, description="The classification engine")


class ClassifyRequestSchema(Schema):
    subject = fields.String(required=True, validate=validate.Length(max=1_000))
    message = fields.String(required=True, validate=validate.Length(max=20_000))


class ClassificationSchema(Schema):
    urgency = fields.String(required=True, metadata={"description": "high | medium | low"})
    sentiment = fields.String(required=True, metadata={"description": "negative | neutral | positive"})
    keywords = fields.List(fields.String(), required=True, metadata={"description": "the words the customer wrote that decided"})
    signals = fields.List(fields.String(), required=True, metadata={"description": "rule categories that stand, e.g. refund, outage"})
    requires_action = fields.Boolean(required=True)
    reasons = fields.List(fields.String(), required=True, metadata={"description": "which rule fired on which words"})
    version = fields.String(required=True, metadata={"description": "rules version; changes when the rules change"})


@blp.route("/classify")
class Classify(MethodView):
    @blp.arguments(ClassifyRequestSchema)
    @blp.response(200, ClassificationSchema)
    def post(self, body):
        """Classify a subject and message exactly as ingestion would, with the reasons."""
        classifier = get_runtime().classifier
        return classifier.classify(body["subject"], body["message"]).to_dict()
