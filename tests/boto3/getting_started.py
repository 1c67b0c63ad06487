"""The old service's getting-started flow, with boto3 1.35 (the last line with the
lookoutmetrics model), against `seismo serve`. Usage: getting_started.py ENDPOINT SAMPLE_DIR

SAMPLE_DIR is a folder written by `seismo generate` (the server's --buckets-dir)."""

import csv
import sys
import time

import boto3

endpoint, sample = sys.argv[1], sys.argv[2]
lm = boto3.client(
    "lookoutmetrics",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="local",
    aws_secret_access_key="local",
)
checks = []


def check(name, condition, detail=""):
    checks.append((name, bool(condition)))
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {detail}"))


detector = lm.create_anomaly_detector(
    AnomalyDetectorName="shop-boto3",
    AnomalyDetectorDescription="orders and revenue",
    AnomalyDetectorConfig={"AnomalyDetectorFrequency": "PT1H"},
)["AnomalyDetectorArn"]
check("create detector", detector.endswith(":AnomalyDetector:shop-boto3"), detector)

metric_set = lm.create_metric_set(
    AnomalyDetectorArn=detector,
    MetricSetName="shop-orders",
    MetricList=[
        {"MetricName": "orders", "AggregationFunction": "SUM"},
        {"MetricName": "revenue", "AggregationFunction": "SUM"},
    ],
    DimensionList=["region", "channel", "plan"],
    TimestampColumn={"ColumnName": "timestamp", "ColumnFormat": "yyyy-MM-dd HH:mm:ss"},
    MetricSetFrequency="PT1H",
    Offset=300,
    MetricSource={
        "S3SourceConfig": {
            "RoleArn": "arn:aws:iam::000000000000:role/seismo",
            "TemplatedPathList": ["s3://seismo-sample/live/{{yyyyMMdd}}/{{HHmm}}"],
            "HistoricalDataPathList": ["s3://seismo-sample/historical/"],
            "FileFormatDescriptor": {"CsvFormatDescriptor": {"FileCompression": "NONE", "ContainsHeader": True, "Delimiter": ","}},
        }
    },
)["MetricSetArn"]
check("create metric set", "MetricSet/shop-boto3/shop-orders" in metric_set, metric_set)

alert = lm.create_alert(
    AlertName="shop-boto3-alert",
    AnomalyDetectorArn=detector,
    AlertSensitivityThreshold=70,
    Action={"SNSConfiguration": {"RoleArn": "arn:aws:iam::000000000000:role/seismo", "SnsTopicArn": "arn:aws:sns:us-east-1:000000000000:alerts", "SnsFormat": "JSON"}},
)["AlertArn"]
check("create alert", alert.endswith(":Alert:shop-boto3-alert"), alert)

lm.back_test_anomaly_detector(AnomalyDetectorArn=detector)
status = None
for _ in range(120):
    status = lm.describe_anomaly_detector(AnomalyDetectorArn=detector)["Status"]
    if status in ("BACK_TEST_COMPLETE", "FAILED"):
        break
    time.sleep(1)
check("backtest completes", status == "BACK_TEST_COMPLETE", status)

summaries = lm.list_anomaly_group_summaries(AnomalyDetectorArn=detector, SensitivityThreshold=50)
groups = summaries["AnomalyGroupSummaryList"]
check("groups listed", len(groups) >= 4, summaries.get("AnomalyGroupStatistics"))

with open(f"{sample}/labels.csv") as f:
    labels = list(csv.DictReader(f))
outage = next(l for l in labels if l["measure"] == "orders" and "region=EU" in l["dimensions"])
match = [g for g in groups if g["PrimaryMetricName"] == "orders" and g["StartTime"] == outage["start"]]
check("the EU mobile outage is a group", len(match) == 1, [g["StartTime"] for g in groups])
if match:
    group = lm.get_anomaly_group(AnomalyDetectorArn=detector, AnomalyGroupId=match[0]["AnomalyGroupId"])["AnomalyGroup"]
    matrix = group["MetricLevelImpactList"][0]["ContributionMatrix"]["DimensionContributionList"]
    top = {d["DimensionName"]: d["DimensionValueContributionList"][0]["DimensionValue"] for d in matrix}
    check("contributions name region=EU and channel=mobile", top.get("region") == "EU" and top.get("channel") == "mobile", top)
    series = lm.list_anomaly_group_time_series(AnomalyDetectorArn=detector, AnomalyGroupId=group["AnomalyGroupId"], MetricName="orders")
    check("time series listed", len(series["TimeSeriesList"]) >= 1, series)
    ts_id = series["TimeSeriesList"][0]["TimeSeriesId"]
    lm.put_feedback(
        AnomalyDetectorArn=detector,
        AnomalyGroupTimeSeriesFeedback={"AnomalyGroupId": group["AnomalyGroupId"], "TimeSeriesId": ts_id, "IsAnomaly": True},
    )
    fb = lm.get_feedback(AnomalyDetectorArn=detector, AnomalyGroupTimeSeriesFeedback={"AnomalyGroupId": group["AnomalyGroupId"]})
    check("feedback read back", fb["AnomalyGroupTimeSeriesFeedback"] == [{"TimeSeriesId": ts_id, "IsAnomaly": True}], fb)
    related = lm.list_anomaly_group_related_metrics(AnomalyDetectorArn=detector, AnomalyGroupId=group["AnomalyGroupId"])
    check("revenue is related", any(r["MetricName"] == "revenue" for r in related["InterMetricImpactList"]), related)

try:
    lm.describe_anomaly_detector(AnomalyDetectorArn=detector + "-missing")
    check("missing detector raises", False, "no error")
except lm.exceptions.ResourceNotFoundException:
    check("missing detector raises ResourceNotFoundException", True)
try:
    lm.create_anomaly_detector(AnomalyDetectorName="shop-boto3", AnomalyDetectorConfig={"AnomalyDetectorFrequency": "PT1H"})
    check("duplicate raises", False, "no error")
except lm.exceptions.ConflictException:
    check("duplicate name raises ConflictException", True)

# Behind API Gateway with IAM auth requests are signed for execute-api: the README's one-line
# override, checked on the wire.
signed = boto3.client("lookoutmetrics", endpoint_url=endpoint, region_name="eu-west-1",
                      aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")
signed.meta.events.register("before-sign.lookoutmetrics", lambda request, **_: request.context.setdefault("signing", {}).update(signing_name="execute-api"))
scopes = []
signed.meta.events.register("before-send", lambda request, **_: scopes.append(request.headers.get("Authorization", b"").decode()))
signed.list_anomaly_detectors()
check("the override signs for execute-api", len(scopes) == 1 and "/eu-west-1/execute-api/aws4_request" in scopes[0], scopes)

lm.delete_anomaly_detector(AnomalyDetectorArn=detector)
passed = sum(1 for _, ok in checks if ok)
failed = len(checks) - passed
print(f"boto3: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
