"""The Django service deployed by the django_ecs.aws collection."""
