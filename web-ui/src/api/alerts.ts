import { http } from './http'
import type { Alert, AlertPolicy, AlertPolicyCreateInput, AlertPolicyFields, AlertPolicyQuery, AlertQuery, Page } from './types'

/** Policies in the department scope (needs task:view). */
export function listAlertPolicies(query: AlertPolicyQuery = {}): Promise<Page<AlertPolicy>> {
  return http.get<Page<AlertPolicy>>('/alert-policies', { ...query })
}

export function getAlertPolicy(id: number): Promise<AlertPolicy> {
  return http.get<AlertPolicy>(`/alert-policies/${id}`)
}

/** A task's policy needs task:update, a department default department:manage; a second one for the scope is 4009. */
export function createAlertPolicy(body: AlertPolicyCreateInput): Promise<AlertPolicy> {
  return http.post<AlertPolicy>('/alert-policies', body)
}

/** Fields left out keep their value (webhookSecret omitted: kept, "": removed). */
export function updateAlertPolicy(id: number, body: AlertPolicyFields): Promise<AlertPolicy> {
  return http.put<AlertPolicy>(`/alert-policies/${id}`, body)
}

export function deleteAlertPolicy(id: number): Promise<null> {
  return http.delete<null>(`/alert-policies/${id}`)
}

/** Sends a test alert now; answers the recorded alert (a failed delivery is still a success: see deliveries). */
export function testAlertPolicy(id: number): Promise<Alert> {
  return http.post<Alert>(`/alert-policies/${id}/test`, {})
}

/** Alerts sent (or tried) in the department scope, newest first (needs record:view). */
export function listAlerts(query: AlertQuery = {}): Promise<Page<Alert>> {
  return http.get<Page<Alert>>('/alerts', { ...query })
}

export function getAlert(id: number): Promise<Alert> {
  return http.get<Alert>(`/alerts/${id}`)
}
