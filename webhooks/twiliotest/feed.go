package twiliotest

import "sync"

// subscriberBuffer is how many messages a subscriber may fall behind
// before it is dropped.
const subscriberBuffer = 1024

// feedKind names one of the Server's live feeds.
type feedKind int

const (
	feedAccepted feedKind = iota // messages as accepted
	feedStatus                   // messages after each status change
	feedCount
)

// feed fans messages out to subscribers; the Server's mu guards it.
type feed struct {
	next int
	subs map[int]chan Message
}

// add registers ch and returns its id.
func (f *feed) add(ch chan Message) int {
	if f.subs == nil {
		f.subs = make(map[int]chan Message)
	}
	f.next++
	f.subs[f.next] = ch
	return f.next
}

// remove unregisters and closes subscriber id, if still there.
func (f *feed) remove(id int) {
	if ch, ok := f.subs[id]; ok {
		delete(f.subs, id)
		close(ch)
	}
}

// publish hands m to every subscriber without ever blocking. A subscriber
// whose buffer is full is dropped (its channel closed) so that it can tell
// it missed messages and resynchronise from Messages.
func (f *feed) publish(m Message) {
	for id, ch := range f.subs {
		select {
		case ch <- m:
		default:
			f.remove(id)
		}
	}
}

// closeAll closes every subscriber channel.
func (f *feed) closeAll() {
	for id := range f.subs {
		f.remove(id)
	}
}

// Subscribe returns a live feed of accepted messages, in order, and a
// function that ends the subscription (and closes the channel). The
// channel is buffered; a subscriber that falls more than 1024 messages
// behind is dropped and its channel closed, so a slow subscriber never
// blocks the API. Close closes every subscription.
func (s *Server) Subscribe() (<-chan Message, func()) {
	return s.subscribe(feedAccepted)
}

// SubscribeStatus is like Subscribe for status changes: it delivers the
// message again after each change of Status (with DeliverStatus on:
// "sent", then "delivered").
func (s *Server) SubscribeStatus() (<-chan Message, func()) {
	return s.subscribe(feedStatus)
}

func (s *Server) subscribe(k feedKind) (<-chan Message, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan Message, subscriberBuffer)
	if s.closed {
		close(ch)
		return ch, func() {}
	}
	id := s.feeds[k].add(ch)
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.feeds[k].remove(id)
		})
	}
}
