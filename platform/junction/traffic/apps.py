from django.apps import AppConfig


class TrafficConfig(AppConfig):
    name = "junction.traffic"
    label = "traffic"
