-- Argo CD health check for trodden.dev/ReplayRun (resource.customizations.health.trodden.dev_ReplayRun).
-- Healthy: the replay finished without regressions. Degraded: regressions, or the replay failed.
-- Progressing: still running, or the operator has not yet seen the latest spec.
local hs = {}
local function condition(conditions, type_)
  if conditions == nil then return nil end
  for _, c in ipairs(conditions) do
    if c.type == type_ then return c end
  end
  return nil
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Trodden operator"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= nil and obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end
local succeeded = condition(obj.status.conditions, "Succeeded")
local failed = condition(obj.status.conditions, "Failed")
local counts = string.format("%s passed, %s failed, %s flaky",
  tostring(obj.status.passed or 0), tostring(obj.status.failed or 0), tostring(obj.status.flaky or 0))
if failed ~= nil and failed.status == "True" then
  hs.status = "Degraded"
  hs.message = (failed.message or failed.reason or "replay failed") .. " (" .. counts .. ")"
  return hs
end
if succeeded ~= nil and succeeded.status == "True" then
  hs.status = "Healthy"
  hs.message = "No regressions (" .. counts .. ")"
  return hs
end
if succeeded ~= nil and succeeded.status == "False" then
  hs.status = "Degraded"
  hs.message = succeeded.message or succeeded.reason or "replay did not succeed"
  return hs
end
hs.status = "Progressing"
hs.message = (succeeded and succeeded.message) or "Replay running"
return hs
