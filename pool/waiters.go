package pool

import "time"

// grant is what a waiter is handed: a resource, a free slot to dial into
// (r == nil, err == nil), or an error (ErrClosed).
type grant[T any] struct {
	r   *Resource[T]
	err error
}

// waiter is one Get blocked for want of a resource.
type waiter[T any] struct {
	// ch has one slot and receives at most one grant, sent under pool.mu
	// while the waiter is removed from the queue, so the send never blocks.
	ch chan grant[T]

	// timer is the WaitTimeout timer (nil without one), owned by the
	// waiting Get and stopped before the waiter is reused.
	timer *time.Timer

	// The fields below are protected by pool.mu.
	prev, next *waiter[T]
	queued     bool
}

// waitQueue is a first-in, first-out list of waiters threaded through the
// waiters themselves, so a waiter that gives up leaves it in O(1).
// It is protected by pool.mu.
type waitQueue[T any] struct {
	head, tail *waiter[T]
	n          int
}

// push appends w to the back of the queue.
func (q *waitQueue[T]) push(w *waiter[T]) {
	w.prev, w.next, w.queued = q.tail, nil, true
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
	q.n++
}

// pop removes and returns the longest waiter, or nil.
func (q *waitQueue[T]) pop() *waiter[T] {
	w := q.head
	if w != nil {
		q.remove(w)
	}
	return w
}

// remove takes w, which must be queued, out of the queue.
func (q *waitQueue[T]) remove(w *waiter[T]) {
	if w.prev == nil {
		q.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		q.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
	q.n--
}
