-- Argo CD health check for the trodden.dev kinds: RumSource, SessionSelector, TestSuite, ReplayRun
-- (argocd-cm keys resource.customizations.health.trodden.dev_<Kind>, one copy of this script each).
-- Argo CD runs it without Lua's standard libraries (only base, table and a safe part of os): no
-- string.format, no math; numbers are joined with `..` and tostring.
-- ReplayRun: Healthy when it replayed without regressions, Degraded when it failed (regressions, a
-- failed Job, nothing replayed), Progressing while it runs or while an error is being retried.
-- The others follow their Ready condition: True is Healthy; Unknown, or False while something is
-- starting, is Progressing; False because it is scaled to zero is Suspended; any other False (a
-- failed selection or generation Job, a collector past its progress deadline) is Degraded.
local hs = {}

local function condition(type_)
  if obj.status == nil or obj.status.conditions == nil then return nil end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == type_ then return c end
  end
  return nil
end

local function explain(c, fallback)
  if c == nil then return fallback end
  if c.message ~= nil and c.message ~= "" then
    if c.reason ~= nil and c.reason ~= "" then return c.reason .. ": " .. c.message end
    return c.message
  end
  return c.reason or fallback
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Trodden operator"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and (obj.status.observedGeneration == nil or obj.status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the Trodden operator to observe generation " .. tostring(generation)
  return hs
end

if obj.kind == "ReplayRun" then
  local succeeded = condition("Succeeded")
  local failed = condition("Failed")
  local counts = tostring(obj.status.passed or 0) .. " passed, " .. tostring(obj.status.failed or 0) ..
    " failed, " .. tostring(obj.status.flaky or 0) .. " flaky"
  if failed ~= nil and failed.status == "True" then
    hs.status = "Degraded"
    hs.message = explain(failed, "replay failed") .. " (" .. counts .. ")"
  elseif succeeded ~= nil and succeeded.status == "True" then
    hs.status = "Healthy"
    hs.message = "No regressions (" .. counts .. ")"
  else
    hs.status = "Progressing"
    hs.message = explain(succeeded, "Replay running")
  end
  return hs
end

local ready = condition("Ready")
local starting = {CollectorMissing = true, CollectorProgressing = true, WaitingForSelection = true}
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Trodden operator"
elseif ready.status == "True" then
  hs.status = "Healthy"
  hs.message = explain(ready, "Ready")
elseif ready.status == "False" and ready.reason == "ScaledToZero" then
  hs.status = "Suspended"
  hs.message = explain(ready, "scaled to zero")
elseif ready.status == "False" and not starting[ready.reason] then
  hs.status = "Degraded"
  hs.message = explain(ready, "not ready")
else
  hs.status = "Progressing"
  hs.message = explain(ready, "Reconciling")
end
return hs
