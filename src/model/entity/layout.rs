//! The visual side of a piece: a [`Layout`] lists the musicians it shows and holds page, system,
//! staff and measure views, each with its own attributes; here with their conversion to and from
//! records.

use super::type_names as tn;
use super::wire::{Fields, check_attrs, record, seq};
use super::{FromValue, ModelError, ToValue};
use crate::model::cowvec::CowVec;
use crate::model::ids::EntityId;
use crate::value::{Value, ValueMap};

#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub id: EntityId,
    pub attrs: ValueMap,
    /// The musicians shown, in order, by id.
    pub musician_ids: CowVec<EntityId>,
    pub page_views: CowVec<PageView>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct PageView {
    pub attrs: ValueMap,
    pub system_views: CowVec<SystemView>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct SystemView {
    pub attrs: ValueMap,
    pub staff_views: CowVec<StaffView>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct StaffView {
    pub attrs: ValueMap,
    pub measure_views: CowVec<MeasureView>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct MeasureView {
    pub attrs: ValueMap,
}

impl ToValue for Layout {
    fn to_value(&self) -> Value {
        record(
            tn::LAYOUT,
            &self.attrs,
            vec![
                ("id", Value::string(self.id.to_string())),
                (
                    "musician-ids",
                    seq(&self.musician_ids, |id| Value::string(id.to_string())),
                ),
                ("page-views", seq(&self.page_views, ToValue::to_value)),
            ],
        )
    }
}

impl ToValue for PageView {
    fn to_value(&self) -> Value {
        record(
            tn::PAGE_VIEW,
            &self.attrs,
            vec![("system-views", seq(&self.system_views, ToValue::to_value))],
        )
    }
}

impl ToValue for SystemView {
    fn to_value(&self) -> Value {
        record(
            tn::SYSTEM_VIEW,
            &self.attrs,
            vec![("staff-views", seq(&self.staff_views, ToValue::to_value))],
        )
    }
}

impl ToValue for StaffView {
    fn to_value(&self) -> Value {
        record(
            tn::STAFF_VIEW,
            &self.attrs,
            vec![("measure-views", seq(&self.measure_views, ToValue::to_value))],
        )
    }
}

impl ToValue for MeasureView {
    fn to_value(&self) -> Value {
        record(tn::MEASURE_VIEW, &self.attrs, vec![])
    }
}

impl FromValue for Layout {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::LAYOUT, "layout")?;
        let id = f.id()?;
        let musician_ids = f.children("musician-ids", |v| match v {
            Value::String(s) => s
                .parse()
                .map_err(|_| ModelError::invalid(format!("{s:?} is not a UUID"))),
            other => Err(ModelError::invalid(format!(
                "musician ids are UUID strings, got {other}"
            ))),
        })?;
        let page_views = f.children("page-views", PageView::from_value)?;
        let attrs = f.rest();
        check_attrs(&attrs, crate::model::attrs::LAYOUT, "layout")?;
        Ok(Layout {
            id,
            attrs,
            musician_ids,
            page_views,
        })
    }
}

impl FromValue for PageView {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::PAGE_VIEW, "page view")?;
        let system_views = f.children("system-views", SystemView::from_value)?;
        Ok(PageView {
            system_views,
            attrs: f.rest(),
        })
    }
}

impl FromValue for SystemView {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::SYSTEM_VIEW, "system view")?;
        let staff_views = f.children("staff-views", StaffView::from_value)?;
        Ok(SystemView {
            staff_views,
            attrs: f.rest(),
        })
    }
}

impl FromValue for StaffView {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let mut f = Fields::of(value, tn::STAFF_VIEW, "staff view")?;
        let measure_views = f.children("measure-views", MeasureView::from_value)?;
        Ok(StaffView {
            measure_views,
            attrs: f.rest(),
        })
    }
}

impl FromValue for MeasureView {
    fn from_value(value: &Value) -> Result<Self, ModelError> {
        let f = Fields::of(value, tn::MEASURE_VIEW, "measure view")?;
        Ok(MeasureView { attrs: f.rest() })
    }
}
