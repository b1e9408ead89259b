"""The streaming triage job: Kafka in, ONNX classification in Apache Beam, routed Kafka out."""
