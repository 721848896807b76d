import { describe, expect, it } from 'vitest'
import type { SchedulerNode, SchedulerState } from '@/api/types'
import { MAX_REASON_LENGTH, checkReason, nodePauseMark, nodesNotYetPaused, pauseNotice } from '../maintenance'

const RUNNING: SchedulerState = { paused: false, pausedAt: null, pausedBy: null, reason: '' }
const PAUSED: SchedulerState = {
  paused: true,
  pausedAt: '2026-05-01T08:00:00Z',
  pausedBy: { id: 1, username: 'admin' },
  reason: 'database upgrade',
}

function node(name: string, over: Partial<SchedulerNode> = {}): SchedulerNode {
  return {
    id: 1, name, host: 'h', pid: 1, status: 'up', alive: true, running: 0, version: '1.0',
    startedAt: '2026-05-01T07:00:00Z', heartbeatAt: '2026-05-01T08:00:01Z', heartbeatAge: 1,
    paused: false, schedulerPaused: false, ...over,
  }
}

describe('checkReason', () => {
  it('trims the reason like the API and refuses more than 255 characters', () => {
    expect(checkReason('  upgrade  ')).toEqual({ reason: 'upgrade', tooLong: false })
    expect(checkReason(undefined)).toEqual({ reason: '', tooLong: false })
    expect(checkReason('x'.repeat(MAX_REASON_LENGTH)).tooLong).toBe(false)
    expect(checkReason('x'.repeat(MAX_REASON_LENGTH + 1)).tooLong).toBe(true)
    expect(checkReason(`  ${'x'.repeat(MAX_REASON_LENGTH)}  `).tooLong).toBe(false)
  })
})

describe('pauseNotice', () => {
  it('says nothing while scheduling runs', () => {
    expect(pauseNotice(RUNNING)).toBeNull()
    expect(pauseNotice(null)).toBeNull()
  })

  it('names who paused, since when and why', () => {
    expect(pauseNotice(PAUSED)).toEqual({ user: 'admin', since: '2026-05-01T08:00:00Z', reason: 'database upgrade' })
    expect(pauseNotice({ ...PAUSED, pausedBy: { id: 9, username: null } })?.user).toBeNull()
  })
})

describe('nodes during a pause', () => {
  const nodes = [
    node('seen', { paused: true, schedulerPaused: true }),
    node('not-yet', { schedulerPaused: true }),
    node('dead', { alive: false, schedulerPaused: true }),
  ]

  it('lists the live nodes that have not confirmed the pause', () => {
    expect(nodesNotYetPaused(nodes).map((n) => n.name)).toEqual(['not-yet'])
    expect(nodesNotYetPaused([node('running')])).toEqual([])
  })

  it('marks each node as paused, pausing or nothing', () => {
    expect(nodes.map(nodePauseMark)).toEqual(['paused', 'pausing', null])
    expect(nodePauseMark(node('running'))).toBeNull()
  })
})
