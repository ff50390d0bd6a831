"""The model registry: registered models, versions, stages, aliases, review and audit.

All of it is one append-only Delta table, ``registry_log`` (see
lakeml/store/schemas.py): the views of sql/views/ fold it into current state,
``lakeml.sql("SELECT * FROM registry_events")`` is the audit trail, and
``Client().registry_as_of(t)`` reads the registry as it was at time ``t``.
Policy (who may do what) comes from the permissions file, see
:mod:`lakeml.registry.permissions`. The calls are those of
:class:`lakeml.registry.service.LakeRegistryService`.
"""
