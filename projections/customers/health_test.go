package customers

import (
	"testing"

	"github.com/crmcore/crm/domain"
)

func TestScore(t *testing.T) {
	days := func(n int) *int { return &n }
	mean := func(m float64) *float64 { return &m }
	for _, c := range []struct {
		name  string
		in    HealthInputs
		score int
		level string
	}{
		{"nothing known, no status", HealthInputs{}, 0 + 0 + 10 + 10, LevelCritical},
		{"best", HealthInputs{Status: domain.CustomerActive, DaysSinceInteraction: days(0), RecentOrders: 7, MeanRating: mean(5)},
			100, LevelHealthy},
		{"worst", HealthInputs{Status: domain.CustomerBlocked, DaysSinceInteraction: days(91), MeanRating: mean(1)}, 0, LevelCritical},
		{"week edge", HealthInputs{Status: domain.CustomerActive, DaysSinceInteraction: days(7), RecentOrders: 1}, 30 + 15 + 10 + 20,
			LevelHealthy},
		{"month", HealthInputs{Status: domain.CustomerInactive, DaysSinceInteraction: days(8), RecentOrders: 2, MeanRating: mean(3)},
			20 + 22 + 10 + 5, LevelAtRisk},
		{"quarter", HealthInputs{Status: domain.CustomerActive, DaysSinceInteraction: days(90), MeanRating: mean(4.5)},
			10 + 0 + 18 + 20, LevelAtRisk},
		{"critical at 30", HealthInputs{Status: domain.CustomerActive, DaysSinceInteraction: days(31), MeanRating: mean(1)},
			10 + 0 + 0 + 20, LevelCritical},
		{"at risk at 62", HealthInputs{Status: domain.CustomerActive, DaysSinceInteraction: days(30), RecentOrders: 2, MeanRating: mean(1)},
			20 + 22 + 0 + 20, LevelAtRisk},
		{"three orders", HealthInputs{Status: domain.CustomerActive, DaysSinceInteraction: days(3), RecentOrders: 3, MeanRating: mean(2.2)},
			30 + 30 + 6 + 20, LevelHealthy},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := Score(c.in)
			if h.Score != c.score || h.Level != c.level {
				t.Fatalf("Score(%+v) = %d %s, want %d %s", c.in, h.Score, h.Level, c.score, c.level)
			}
			sum := 0
			for _, f := range h.Factors {
				if f.Points < 0 || f.Points > f.Max {
					t.Errorf("factor %+v out of bounds", f)
				}
				sum += f.Points
			}
			if sum != h.Score || len(h.Factors) != 4 {
				t.Errorf("factors %+v do not sum to %d", h.Factors, h.Score)
			}
		})
	}
}

func TestLevelOf(t *testing.T) {
	for score, want := range map[int]string{100: LevelHealthy, 70: LevelHealthy, 69: LevelAtRisk, 40: LevelAtRisk, 39: LevelCritical, 0: LevelCritical} {
		if got := LevelOf(score); got != want {
			t.Errorf("LevelOf(%d) = %s, want %s", score, got, want)
		}
	}
}

func TestOrderSegment(t *testing.T) {
	for n, want := range map[int]string{0: OrdersNone, 1: OrdersOneTime, 2: OrdersRepeat, 4: OrdersRepeat, 5: OrdersLoyal, 40: OrdersLoyal} {
		if got := OrderSegment(n); got != want {
			t.Errorf("OrderSegment(%d) = %s, want %s", n, got, want)
		}
	}
}
