import type { SchedulerNode, SchedulerState } from '@/api/types'

/** The API's limit for the reason of a pause (`POST /scheduler/pause`). */
export const MAX_REASON_LENGTH = 255

/** The reason as it will be sent (trimmed, like the API does), or an error when it is too long. */
export function checkReason(input: string | null | undefined): { reason: string; tooLong: boolean } {
  const reason = (input ?? '').trim()
  return { reason, tooLong: reason.length > MAX_REASON_LENGTH }
}

/**
 * What the "scheduling paused" banner says: who paused (`null` once that user is deleted), since when and why;
 * `null` while scheduling runs.
 */
export function pauseNotice(
  state: SchedulerState | null | undefined,
): { user: string | null; since: string | null; reason: string } | null {
  if (!state?.paused) return null
  return { user: state.pausedBy?.username ?? null, since: state.pausedAt, reason: state.reason }
}

/** Live nodes that have not heartbeated since the pause began: they may still be starting work. */
export function nodesNotYetPaused(nodes: readonly SchedulerNode[]): SchedulerNode[] {
  return nodes.filter((node) => node.alive && node.schedulerPaused && !node.paused)
}

/** How the nodes table marks a node during maintenance: paused, pausing (not confirmed yet), or nothing. */
export function nodePauseMark(node: SchedulerNode): 'paused' | 'pausing' | null {
  if (node.paused) return 'paused'
  if (node.schedulerPaused && node.alive) return 'pausing'
  return null
}
