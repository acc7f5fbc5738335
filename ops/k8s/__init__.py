"""Kubernetes manifests and Helm values derived from the compose-side files (`make k8s`).

`sources` reads the compose files and says where each component lives in the cluster;
`monitoring` derives rules, dashboards, datasources and the Alertmanager configuration;
`workloads` our Deployments and PodMonitors; `charts` the derived half of each chart's values;
`__main__` writes them all under deploy/. `measure` takes the figures docs/kubernetes.md sizes from.
"""
