"""The pipeline with the real Lambda binaries run by `cargo lambda watch`, invoked with the
files in events/, on AWS services emulated by moto. scripts/test-lambda-watch.sh runs it.

    watch_flow.py setup MOTO_URL SAMPLE_DIR ENV_FILE   # resources, data, the functions' env
    watch_flow.py flow MOTO_URL WATCH_URL              # the API through watch, then the events
"""
import json
import subprocess
import sys
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
HISTORY_END = "2026-09-23 10:00:00"  # the hour events/ingest/scheduled.json ingests
LIVE = "live/20260923/1000/metrics.csv"
checks = 0


def check(ok, what):
    global checks
    if not ok:
        sys.exit(f"FAILED: {what}")
    checks += 1
    print(f"ok {checks}: {what}")


def client(service, url):
    # No retries: a retried create would hide what the first attempt did.
    config = Config(read_timeout=900, retries={"max_attempts": 1, "mode": "standard"})
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", config=config,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def setup(moto, sample, env_file):
    ddb = client("dynamodb", moto)
    ddb.create_table(TableName="seismo", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    s3 = client("s3", moto)
    s3.create_bucket(Bucket="seismo-sample")
    s3.create_bucket(Bucket="seismo-state")
    bucket = Path(sample) / "seismo-sample"
    lines = (bucket / "historical/metrics.csv").read_text().splitlines(keepends=True)
    history = [lines[0]] + [l for l in lines[1:] if l[:19] < HISTORY_END]
    s3.put_object(Bucket="seismo-sample", Key="historical/metrics.csv", Body="".join(history))
    s3.put_object(Bucket="seismo-sample", Key=LIVE, Body=(bucket / LIVE).read_bytes())
    sqs = client("sqs", moto)
    urls = {n: sqs.create_queue(QueueName=n)["QueueUrl"] for n in ["detect", "notify", "alerts"]}
    sns = client("sns", moto)
    topic = sns.create_topic(Name="shop-alerts")["TopicArn"]
    alerts_arn = sqs.get_queue_attributes(QueueUrl=urls["alerts"], AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=alerts_arn["Attributes"]["QueueArn"])
    client("scheduler", moto).create_schedule_group(Name="seismo")
    env = {
        "AWS_ENDPOINT_URL": moto, "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "SEISMO_TABLE": "seismo", "SEISMO_STATE_BUCKET": "seismo-state",
        "SEISMO_DETECT_QUEUE_URL": urls["detect"], "SEISMO_NOTIFY_QUEUE_URL": urls["notify"],
        "SEISMO_SCHEDULE_GROUP": "seismo",
        "SEISMO_INGEST_ARN": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:seismo-ingest",
        "SEISMO_SCHEDULER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/seismo-scheduler",
        "SEISMO_CONSOLE_URL": "https://console.example",
    }
    Path(env_file).write_text("".join(f"{k}={v}\n" for k, v in env.items()))


def drain(sqs, url):
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return out
        for m in messages:
            out.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def invoke(watch_port, function, event):
    out = subprocess.run(
        ["cargo", "lambda", "invoke", function, "-A", "127.0.0.1", "-P", watch_port,
         "--data-file", str(ROOT / "events" / event)],
        capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        sys.exit(f"FAILED: cargo lambda invoke {function} {event}: {out.stderr}")
    return json.loads(out.stdout)


def event_body(event):
    return json.loads(json.loads((ROOT / "events" / event).read_text())["Records"][0]["body"])


def flow(moto, watch):
    port = watch.rsplit(":", 1)[1]
    lm = client("lookoutmetrics", f"{watch}/lambda-url/api")
    arn = lm.create_anomaly_detector(
        AnomalyDetectorName="shop",
        AnomalyDetectorConfig={"AnomalyDetectorFrequency": "PT1H"})["AnomalyDetectorArn"]
    check(arn == f"arn:aws:lookoutmetrics:us-east-1:{ACCOUNT}:AnomalyDetector:shop",
          "the api function (boto3 through its function URL) created the detector")
    lm.create_metric_set(
        AnomalyDetectorArn=arn, MetricSetName="shop-orders",
        MetricList=[{"MetricName": m, "AggregationFunction": "SUM"} for m in ["orders", "revenue"]],
        DimensionList=["region", "channel", "plan"], Offset=300, MetricSetFrequency="PT1H",
        TimestampColumn={"ColumnName": "timestamp", "ColumnFormat": "yyyy-MM-dd HH:mm:ss"},
        MetricSource={"S3SourceConfig": {
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/seismo",
            "TemplatedPathList": ["s3://seismo-sample/live/{{yyyyMMdd}}/{{HHmm}}"],
            "HistoricalDataPathList": ["s3://seismo-sample/historical/"],
            "FileFormatDescriptor": {"CsvFormatDescriptor": {
                "FileCompression": "NONE", "ContainsHeader": True, "Delimiter": ","}}}})
    sqs = client("sqs", moto)
    urls = {n: sqs.get_queue_url(QueueName=n)["QueueUrl"] for n in ["detect", "notify", "alerts"]}
    topic = client("sns", moto).list_topics()["Topics"][0]["TopicArn"]
    lm.create_alert(AlertName="shop-all", AlertSensitivityThreshold=50, AnomalyDetectorArn=arn,
                    Action={"SNSConfiguration": {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/a",
                                                 "SnsTopicArn": topic, "SnsFormat": "JSON"}})
    lm.activate_anomaly_detector(AnomalyDetectorArn=arn)
    status = lm.describe_anomaly_detector(AnomalyDetectorArn=arn)["Status"]
    once = client("scheduler", moto).get_schedule(GroupName="seismo", Name="shop.activate")
    asked = json.loads(once["Target"]["Input"])
    token = asked.pop("token", None)
    check(status == "ACTIVATING" and once["ScheduleExpression"].startswith("at(")
          and once["ActionAfterCompletion"] == "DELETE" and token
          and asked == json.loads((ROOT / "events" / "ingest" / "activate.json").read_text()),
          f"activation returned at once with a one-time schedule: {status}")
    out = invoke(port, "ingest", "ingest/activate.json")
    status = lm.describe_anomaly_detector(AnomalyDetectorArn=arn)["Status"]
    # Once learned, the activation also ingests the hour closed last (today's: no data in this
    # sample), unless that hour's Offset has not passed yet; its detect task is left queued.
    caught_up = out.get("caughtUp")
    check(out.get("activation") == "ACTIVE" and caught_up in (0, 1) and status == "ACTIVE",
          f"the ingest function learned the historical path: {out} {status}")
    caught = drain(sqs, urls["detect"])
    check(len(caught) == caught_up, f"it queued the caught-up hour's detect task: {caught}")
    schedule = client("scheduler", moto).get_schedule(GroupName="seismo", Name="shop")
    check(schedule["ScheduleExpression"] == "cron(5 * * * ? *)"
          and schedule["Target"]["Arn"].endswith(":function:seismo-ingest"),
          "the api function created the EventBridge schedule")

    out = invoke(port, "ingest", "ingest/scheduled.json")
    check(out.get("shards") == 1 and out.get("series") == 18, f"ingest read the interval: {out}")
    tasks = [json.loads(b) for b in drain(sqs, urls["detect"])]
    check(tasks == [event_body("detect/shard.json")], "ingest queued events/detect/shard.json")
    out = invoke(port, "detect", "detect/shard.json")
    check(out == {"batchItemFailures": []}, f"detect scored the shard: {out}")
    state = client("s3", moto).list_objects_v2(Bucket="seismo-state", Prefix=f"state/{arn}/state/")
    check(state.get("KeyCount", 0) >= 1, "the model state is an object in the state bucket")
    work = [json.loads(b) for b in drain(sqs, urls["notify"])]
    check(work == [event_body("notify/groups.json")], "detect queued events/notify/groups.json")
    out = invoke(port, "notify", "notify/groups.json")
    check(out == {"batchItemFailures": []}, f"notify sent: {out}")

    qualifying = {g["AnomalyGroupId"] for g in lm.list_anomaly_group_summaries(
        AnomalyDetectorArn=arn, SensitivityThreshold=50)["AnomalyGroupSummaryList"]}
    alerts = [json.loads(json.loads(b)["Message"]) for b in drain(sqs, urls["alerts"])]
    check(len(qualifying) >= 1 and sorted(a["anomalyGroupId"] for a in alerts) == sorted(qualifying),
          f"one SNS alert per group at or above 50: {len(alerts)}")
    orders = [a for a in alerts if a["impactedMetric"]["metricName"] == "orders"]
    check(len(orders) == 1 and orders[0]["timestamp"] == "2026-09-23T10:00Z[UTC]"
          and orders[0]["alertName"] == "shop-all" and orders[0]["anomalyDetectorArn"] == arn,
          "the orders alert has the old payload's fields")

    for function, event in [("ingest", "ingest/scheduled.json"), ("detect", "detect/shard.json"),
                            ("notify", "notify/groups.json")]:
        invoke(port, function, event)
    drain(sqs, urls["detect"])
    drain(sqs, urls["notify"])
    check(drain(sqs, urls["alerts"]) == [], "replaying every event sends nothing more")
    executions = lm.describe_anomaly_detection_executions(AnomalyDetectorArn=arn)["ExecutionList"]
    sample_hour = [e["Status"] for e in executions if e["Timestamp"].startswith("2026-09-23T10:00")]
    check(sample_hour == ["COMPLETED"] and len(executions) == 1 + caught_up,
          f"one execution for the sample's hour: {executions}")
    lm.deactivate_anomaly_detector(AnomalyDetectorArn=arn)
    check(lm.describe_anomaly_detector(AnomalyDetectorArn=arn)["Status"] == "DEACTIVATED",
          "deactivated")
    print(f"all {checks} checks passed")


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup(*sys.argv[2:5])
    else:
        flow(*sys.argv[2:4])
