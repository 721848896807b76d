import { http } from './http'

/** `GET /v1/features` (any signed-in user): what the platform's configuration allows (docs/api.md). */
export interface Features {
  /** job.shell.enabled: SHELL tasks can be saved and run. */
  shell: boolean
  /** server.timezone: the platform's IANA zone. */
  timezone: string
}

export function getFeatures(): Promise<Features> {
  return http.get<Features>('/features')
}
