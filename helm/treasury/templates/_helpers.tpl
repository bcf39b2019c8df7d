{{- define "treasury.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "treasury.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "treasury.selectorLabels" -}}
app.kubernetes.io/name: {{ include "treasury.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "treasury.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "treasury.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: treasury
{{- end -}}

{{- define "treasury.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "treasury.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "treasury.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secrets the operator creates; rendering stops without them. */}}
{{- define "treasury.databaseSecret" -}}
{{- required "database.existingSecret: name the Secret holding the PostgreSQL URLs (docs/kubernetes.md)" .Values.database.existingSecret -}}
{{- end -}}

{{- define "treasury.keysSecret" -}}
{{- required "keys.existingSecret: name the Secret holding the shared encryption and token keys (docs/kubernetes.md)" .Values.keys.existingSecret -}}
{{- end -}}

{{/* Environment shared by the server and the migration Job. */}}
{{- define "treasury.databaseEnv" -}}
- name: TREASURY_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "treasury.databaseSecret" . }}
      key: {{ .Values.database.urlKey }}
- name: TREASURY_LOG_LEVEL
  value: {{ .Values.log.level | quote }}
- name: TREASURY_LOG_FORMAT
  value: {{ .Values.log.format | quote }}
{{- if .Values.database.maxConns }}
- name: TREASURY_DB_MAX_CONNS
  value: {{ .Values.database.maxConns | quote }}
{{- end }}
{{- end -}}

{{- define "treasury.initImage" -}}
{{- printf "%s:%s" .Values.keys.initImage.repository .Values.keys.initImage.tag -}}
{{- end -}}

{{/* The server's pods (the migration Job's pods are another component). */}}
{{- define "treasury.serverSelectorLabels" -}}
{{ include "treasury.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end -}}
