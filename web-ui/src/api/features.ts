import { http } from './http'
import type { components } from './schema.gen'

/** `GET /v1/features` (any signed-in user): what the platform's configuration allows (docs/api.md). */
export type Features = components['schemas']['FeaturesOutput']

export function getFeatures(): Promise<Features> {
  return http.get<Features>('/features')
}
