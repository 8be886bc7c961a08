package e2e

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// TestLeadsAPITimelinePagesJoinToTheWholeTimeline checks the timeline read
// a page at a time from the stream: newest first, each comment (with its
// content after its edits) just above the AddComment entry that wrote it,
// the counts over all pages, and pages of every size that join to the
// whole list, also where a page boundary falls between a comment and its
// entry.
func TestLeadsAPITimelinePagesJoinToTheWholeTimeline(t *testing.T) {
	s := newStack(t)
	s.laWant(s.do(s.key, "POST", "/leads", laJohn), 201, nil)
	for i := range 4 {
		s.laWant(s.do(s.key, "POST", "/leads/comments/1", map[string]any{"content": fmt.Sprintf("Comment %d", i+1)}), 201, nil)
	}
	s.laWant(s.do(s.key, "PUT", "/leads/comments/2", map[string]any{"content": "Comment 2, edited"}), 200, nil)
	s.laWant(s.do(s.key, "PUT", "/leads/change-status", map[string]any{"ids": []int{1}, "statusId": 2}), 200, nil)
	s.laWant(s.do(s.key, "POST", "/leads/comments/1", map[string]any{"content": "Comment 5"}), 201, nil)

	type timeline struct {
		Items         []laLog `json:"logsAndComments"`
		LogsCount     int     `json:"logsCount"`
		CommentsCount int     `json:"commentsCount"`
	}
	var whole timeline
	s.laWant(s.do(s.key, "GET", "/leads/logs-and-comments/1?limit=200", nil), 200, &whole)
	var got []string
	for _, it := range whole.Items {
		if it.Type == "comment" {
			got = append(got, "comment "+*it.Content)
		} else {
			got = append(got, *it.Action)
		}
	}
	want := []string{"comment Comment 5", "AddComment", "ChangeStatus", "EditComment", "comment Comment 4", "AddComment",
		"comment Comment 3", "AddComment", "comment Comment 2, edited", "AddComment", "comment Comment 1", "AddComment", "CreateLead"}
	if !reflect.DeepEqual(got, want) || whole.LogsCount != 8 || whole.CommentsCount != 5 {
		t.Fatalf("timeline %q (%d logs, %d comments)\nwant     %q (8 logs, 5 comments)", got, whole.LogsCount, whole.CommentsCount, want)
	}
	for _, limit := range []int{1, 2, 3, 5, 13} {
		var joined []laLog
		for page := 1; page <= (len(whole.Items)+limit-1)/limit+1; page++ {
			var tl timeline
			s.laWant(s.do(s.key, "GET", fmt.Sprintf("/leads/logs-and-comments/1?page=%d&limit=%d", page, limit), nil), 200, &tl)
			if len(tl.Items) > limit || tl.LogsCount != whole.LogsCount || tl.CommentsCount != whole.CommentsCount {
				t.Fatalf("page %d of %d: %d items, counts %d/%d", page, limit, len(tl.Items), tl.LogsCount, tl.CommentsCount)
			}
			joined = append(joined, tl.Items...)
		}
		a, _ := json.Marshal(joined)
		b, _ := json.Marshal(whole.Items)
		if string(a) != string(b) {
			t.Fatalf("pages of %d join to\n%s\nwant\n%s", limit, a, b)
		}
	}
}
