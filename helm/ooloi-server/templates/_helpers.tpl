{{/*
Names, labels, the image, and the checks that stop a release that could not work.
*/}}

{{/* The chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "ooloi-server.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources: the release name, followed by the chart name unless
the release name already contains it.
*/}}
{{- define "ooloi-server.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "ooloi-server.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels every resource carries. */}}
{{- define "ooloi-server.labels" -}}
helm.sh/chart: {{ include "ooloi-server.chart" . }}
{{ include "ooloi-server.selectorLabels" . }}
app.kubernetes.io/version: {{ include "ooloi-server.tag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ooloi
{{- end }}

{{/* The labels that identify the release's pods (never change them: selectors are immutable). */}}
{{- define "ooloi-server.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ooloi-server.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The selector of the server pod (the test pod has component "test"). */}}
{{- define "ooloi-server.serverSelectorLabels" -}}
{{ include "ooloi-server.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{/* The selector of the helm test pod. */}}
{{- define "ooloi-server.testSelectorLabels" -}}
{{ include "ooloi-server.selectorLabels" . }}
app.kubernetes.io/component: test
{{- end }}

{{/* The ServiceAccount the pods run as. */}}
{{- define "ooloi-server.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ooloi-server.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image tag: image.tag, or the chart's appVersion. */}}
{{- define "ooloi-server.tag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* repository:tag, or repository:tag@digest when image.digest is set. */}}
{{- define "ooloi-server.image" -}}
{{- $image := printf "%s:%s" .Values.image.repository (include "ooloi-server.tag" .) }}
{{- if .Values.image.digest }}
{{- $image = printf "%s@%s" $image .Values.image.digest }}
{{- end }}
{{- $image }}
{{- end }}

{{/*
The checkov skip of the image-digest check (CKV_K8S_43), only while no digest is set: pinning
by digest is the deployer's choice (image.digest), since the chart cannot know the digest of
an image the deployer builds.
*/}}
{{- define "ooloi-server.digestSkip" -}}
{{- if not .Values.image.digest }}
checkov.io/skip1: CKV_K8S_43=pinning by digest is the deployer's choice through image.digest
{{- end }}
{{- end }}

{{/* True (non-empty) when the store is PostgreSQL, from an existing Secret. */}}
{{- define "ooloi-server.postgres" -}}
{{- if .Values.store.existingSecret }}true{{ end }}
{{- end }}

{{/* The name of the PersistentVolumeClaim of /data, or nothing when /data is an emptyDir. */}}
{{- define "ooloi-server.claimName" -}}
{{- if and .Values.persistence.enabled (not (include "ooloi-server.postgres" .)) }}
{{- default (printf "%s-data" (include "ooloi-server.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}
{{- end }}

{{/* Where secret files are mounted. */}}
{{- define "ooloi-server.secretsDir" -}}/var/run/secrets/ooloi{{- end }}

{{/*
The release's guards: settings the server would refuse at start-up, or that would expose it,
stop the render with a message that says what to set. Every manifest of the server includes
this, so `helm template`, `helm install` and `helm upgrade` all fail early.
*/}}
{{- define "ooloi-server.validate" -}}
{{- $auth := .Values.auth }}
{{- $keySource := or $auth.hs256.existingSecret $auth.publicKeys.existingSecret $auth.jwksUrl }}
{{- if eq $auth.mode "jwt" }}
{{- if not $keySource }}
{{- fail "auth.mode is jwt but no key source is set: set auth.hs256.existingSecret, auth.publicKeys.existingSecret (with auth.publicKeys.keys) or auth.jwksUrl (or choose auth.mode none with auth.allowInsecureNetwork true, on a trusted network only)" }}
{{- end }}
{{- if not $auth.issuer }}
{{- fail "auth.mode is jwt but auth.issuer is not set: set the issuer (iss) your tokens carry" }}
{{- end }}
{{- if not $auth.audience }}
{{- fail "auth.mode is jwt but auth.audience is not set: set the audience (aud) your tokens carry" }}
{{- end }}
{{- if and $auth.publicKeys.existingSecret (not $auth.publicKeys.keys) }}
{{- fail "auth.publicKeys.existingSecret is set but auth.publicKeys.keys is empty: list the Secret's keys that hold PEM public keys" }}
{{- end }}
{{- if $auth.allowInsecureNetwork }}
{{- fail "auth.allowInsecureNetwork is only for auth.mode none; remove it with auth.mode jwt" }}
{{- end }}
{{- else }}
{{- if not $auth.allowInsecureNetwork }}
{{- fail "auth.mode is none but auth.allowInsecureNetwork is not true: without authentication anyone who reaches the Service acts as any user with every role; set auth.allowInsecureNetwork true only on a trusted network, or use auth.mode jwt" }}
{{- end }}
{{- if $keySource }}
{{- fail "auth.mode is none but a key source (auth.hs256, auth.publicKeys or auth.jwksUrl) is set: no token would be verified; use auth.mode jwt or remove the key source" }}
{{- end }}
{{- end }}
{{- $chartEnv := list "RUST_LOG" "OOLOI__STORE__URL" "OOLOI__STORE__URL_FILE" "OOLOI__AUTH__HS256_SECRET" "OOLOI__AUTH__HS256_SECRET_FILE" "OOLOI__AUTH__PUBLIC_KEY_FILES" "OOLOI__AUTH__ALLOW_INSECURE_NETWORK" "OOLOI__TELEMETRY__OTLP_ENDPOINT" }}
{{- $chartEnv = concat $chartEnv (keys (include "ooloi-server.envSettings" . | fromJson)) }}
{{- range .Values.extraEnv }}
{{- if has .name $chartEnv }}
{{- fail (printf "extraEnv sets %s, which the chart sets (or keeps out of the pod spec) from its own values; use those (see README.md)" .name) }}
{{- end }}
{{- end }}
{{- if and .Values.persistence.existingClaim (include "ooloi-server.postgres" .) }}
{{- fail "persistence.existingClaim is set but the store is PostgreSQL (store.existingSecret): the data volume would be unused; remove one of them" }}
{{- end }}
{{- end }}

{{/*
The server's settings from the chart's values that go in the config file, as
{section: {key: value}}: the non-secret part of the configuration. Secret material is never
here; the pod's environment names the files that hold it.
*/}}
{{- define "ooloi-server.fileSettings" -}}
{{- $v := .Values }}
{{- $auth := dict "mode" $v.auth.mode "tenant_claim" $v.auth.tenantClaim "roles_claim" $v.auth.rolesClaim }}
{{- if $v.auth.issuer }}{{ $_ := set $auth "issuer" $v.auth.issuer }}{{ end }}
{{- if $v.auth.audience }}{{ $_ := set $auth "audience" $v.auth.audience }}{{ end }}
{{- if $v.auth.jwksUrl }}{{ $_ := set $auth "jwks_url" $v.auth.jwksUrl }}{{ end }}
{{- toJson (dict
  "store" (dict "durability" $v.store.durability)
  "auth" $auth
  "tenants" (dict "mode" $v.tenants.mode)) }}
{{- end }}

{{/*
The settings the chart sets in the container's environment instead, as OOLOI__SECTION__KEY:
value. The image sets these four as ENV, and the environment wins over the config file, so the
pod must set them in its environment for the chart's values to count.
*/}}
{{- define "ooloi-server.envSettings" -}}
{{- toJson (dict
  "OOLOI__GRPC__LISTEN" (printf "%s:10700" .Values.listenAddress)
  "OOLOI__HTTP__LISTEN" (printf "%s:10701" .Values.listenAddress)
  "OOLOI__STORE__DATA_DIR" "/data"
  "OOLOI__LOG__FORMAT" .Values.log.format) }}
{{- end }}

{{/*
One TOML value. Helm reads every YAML number as a float, so a whole number is written as a TOML
integer (the server's integer keys take only integers); strings are JSON-quoted, which is valid
TOML; lists are arrays of those.
*/}}
{{- define "ooloi-server.tomlValue" -}}
{{- $k := kindOf . }}
{{- if eq $k "string" }}{{ toJson . }}
{{- else if eq $k "bool" }}{{ . }}
{{- else if or (eq $k "float64") (eq $k "int") (eq $k "int64") }}
{{- if eq (float64 .) (float64 (int64 .)) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- else if eq $k "slice" }}[{{ range $i, $e := . }}{{ if $i }}, {{ end }}{{ include "ooloi-server.tomlValue" $e }}{{ end }}]
{{- else }}{{ fail (printf "config: a %s cannot be a setting value (%v)" $k .) }}
{{- end }}
{{- end }}

{{/*
The TOML config file: the chart's settings, then config (extra keys). A key of config the chart
already sets is refused, so the chart's probes, ports and guards cannot be undone by accident.
*/}}
{{- define "ooloi-server.configToml" -}}
{{- $settings := include "ooloi-server.fileSettings" . | fromJson }}
{{- $env := include "ooloi-server.envSettings" . | fromJson }}
{{- $reserved := dict
  "store.url" "store.existingSecret (a URL with a password does not belong in a ConfigMap)"
  "store.url_file" "store.existingSecret"
  "auth.hs256_secret" "auth.hs256.existingSecret (a secret does not belong in a ConfigMap)"
  "auth.hs256_secret_file" "auth.hs256.existingSecret"
  "auth.public_key_files" "auth.publicKeys"
  "auth.allow_insecure_network" "auth.allowInsecureNetwork"
  "telemetry.otlp_endpoint" "telemetry.otlpEndpoint" }}
{{- range $section, $keys := .Values.config }}
{{- if not (kindIs "map" $keys) }}
{{- fail (printf "config.%s must be a map of keys of the [%s] section" $section $section) }}
{{- end }}
{{- $have := get $settings $section | default dict }}
{{- range $key, $value := $keys }}
{{- $dotted := printf "%s.%s" $section $key }}
{{- if hasKey $reserved $dotted }}
{{- fail (printf "config.%s is not allowed here; use the chart's value %s" $dotted (get $reserved $dotted)) }}
{{- end }}
{{- if or (hasKey $have $key) (hasKey $env (printf "OOLOI__%s__%s" (upper $section) (upper $key))) }}
{{- fail (printf "config.%s is set by the chart itself; use the chart's value for it (see README.md)" $dotted) }}
{{- end }}
{{- $_ := set $have $key $value }}
{{- end }}
{{- $_ := set $settings $section $have }}
{{- end }}
# ooloi-server settings (TOML), written by the chart from its values. The listen addresses, the
# data directory, the log format and the files holding secrets are set in the pod's environment,
# which wins over this file. `ooloi-server --help` lists every key.
{{- range $section := keys $settings | sortAlpha }}

[{{ $section }}]
{{- $keys := get $settings $section }}
{{- range $key := keys $keys | sortAlpha }}
{{ $key }} = {{ include "ooloi-server.tomlValue" (get $keys $key) }}
{{- end }}
{{- end }}
{{- end }}
